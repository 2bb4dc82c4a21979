"""Stage 1: video → landmarks (MediaPipe Holistic behind one interface, the .pose landmark store)."""
