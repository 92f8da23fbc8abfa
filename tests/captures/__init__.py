"""Tools that regenerate the test data under tests/data/captures/ (see make_captures)."""
