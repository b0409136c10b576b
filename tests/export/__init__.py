"""Tests of exporting models and weights to other frameworks' formats."""
