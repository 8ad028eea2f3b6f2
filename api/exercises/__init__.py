"""Exercises and their submissions (grading is the `grade` kind); authored and GIFT-imported exercises."""
