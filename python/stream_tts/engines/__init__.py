"""Speech and translation engines behind one small interface (see `base`)."""
