"""The exercises feature's pure rules, shared by the API and the workers: what a valid exercise
is (rules.py), the forms of a coding exercise's tests (code_tests.py), and Moodle's GIFT format
(gift.py)."""
