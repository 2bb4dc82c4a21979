"""Text: Gemini sentence variations."""
