"""Letters: the user writes to people in their own life, with os1's help; the best of them
become a book. `letter_actions` gives the skill's actions; `cli` the `os1 letters` verbs."""

from os1.skills.letters.skill import LetterSkill, letter_actions, letters_dir

__all__ = ["LetterSkill", "letter_actions", "letters_dir"]
