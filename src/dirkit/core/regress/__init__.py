"""Golden-output regression tests, the pure part: cases, normalization, line matching, verdicts, JUnit XML."""
