"""Readers of what businesses already have (issue 15): each input known by its content and read
into the canonical invoice or allocation rows, validated against the original file."""
