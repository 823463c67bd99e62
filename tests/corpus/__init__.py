"""Shared checks of what blanktrack writes, for the corpus, fuzz, crash and XSD tests."""
