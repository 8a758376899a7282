"""os1 as a server: the API, the WebSockets that carry a turn, and the web page."""
