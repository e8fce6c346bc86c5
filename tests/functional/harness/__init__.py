"""Tests of the functional-test harness itself: each real component starts and has its production properties."""
