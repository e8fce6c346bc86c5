# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/maintenance_windows.py and the test plugin built on it (nl2api.deploy.clear_of)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils import maintenance_windows as windows
from ansible_collections.nl2api.deploy.plugins.test import maintenance_windows as window_tests


@pytest.mark.parametrize("daily,weekly,overlap", [
    ("03:00-04:00", "sun:05:00-sun:06:00", False),
    ("05:00-06:00", "sun:05:30-sun:06:30", True),
    ("04:00-05:00", "sun:05:00-sun:06:00", False),  # touching ends do not overlap
    ("23:30-00:30", "mon:00:00-mon:01:00", True),  # the daily window crosses midnight into Monday
    ("23:30-00:30", "sun:23:45-mon:00:15", True),  # the weekly window crosses the week boundary
    ("12:00-13:00", "sat:22:00-sun:02:00", False),
])
def test_daily_window_against_weekly_window(daily, weekly, overlap):
    assert windows.daily_overlaps_weekly(windows.parse_daily_window(daily),
                                         windows.parse_weekly_window(weekly)) is overlap
    assert (windows.window_conflict(daily, weekly, 30) == "the windows overlap") is overlap


def test_window_parsing():
    assert windows.parse_daily_window("23:30-00:30") == (23 * 60 + 30, 60)
    assert windows.parse_weekly_window("SUN:23:00-mon:01:30") == (6 * 1440 + 23 * 60, 150)
    for bad in ("24:00-01:00", "3-4", "3:00-4:00", "sun:05:00-06:00"):
        with pytest.raises(ValueError):
            windows.parse_daily_window(bad)
    with pytest.raises(ValueError):
        windows.parse_weekly_window("xyz:05:00-sun:06:00")


@pytest.mark.parametrize("daily,weekly,minimum,problem", [
    ("03:00-04:00", "sun:05:00-sun:06:00", 30, None),
    ("03:00-03:20", "sun:05:00-sun:06:00", 30, "each window must last at least 30 minutes"),
    ("03:00-04:00", "sun:05:00-sun:05:45", 60, "each window must last at least 60 minutes"),
    ("03:00-04:00", "sunday 05:00", 30, "is not a weekly window"),
    ("3am", "sun:05:00-sun:06:00", 30, "is not a daily window"),
])
def test_window_conflict(daily, weekly, minimum, problem):
    found = windows.window_conflict(daily, weekly, minimum)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_clear_of_is_the_conflict_rule():
    clear_of = window_tests.TestModule().tests()["clear_of"]
    assert clear_of("03:00-04:00", "sun:05:00-sun:06:00") is True
    assert clear_of("05:00-06:00", "sun:05:30-sun:06:30") is False
    assert clear_of("03:00-03:40", "sun:05:00-sun:06:00", 60) is False
    assert clear_of("03:00-03:40", "sun:05:00-sun:06:00", "30") is True
