# scikit-learn 1.9 ships no type information; typed_dezero uses only sklearn.datasets.load_digits.
