"""The bottom layer: names and values several modules share, and atomic storage."""
