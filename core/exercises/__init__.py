"""The exercises feature's pure rules, shared by the API and the workers: what a valid exercise
is (rules.py), the forms of a coding exercise's tests (code_tests.py), Moodle's GIFT format read
(gift.py) and written (gift_export.py), a learner's answer as it is taken and stored
(learner_answers.py), and what code grades alone (exact_grading.py)."""
