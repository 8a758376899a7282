"""How the user feels: emotion read from text and voice, the mood timeline, the support strategy."""
