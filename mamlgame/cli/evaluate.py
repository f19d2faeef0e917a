"""`mamlgame eval | compare | bench`."""
COMMANDS = []
