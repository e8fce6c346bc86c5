# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Daily and weekly maintenance windows (UTC), as RDS and ElastiCache write them: "hh24:mi-hh24:mi" repeated every
day (backups, snapshots) and "ddd:hh24:mi-ddd:hh24:mi" once a week (maintenance). The one definition of their syntax
and of when two of them collide, used by the elasticache_replication_group module and, through the test plugin
``nl2api.deploy.clear_of``, by the postgres and redis roles' input checks.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import re
from typing import Optional, Tuple

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_DAY = 24 * 60
_MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY
# Two-digit hours and minutes, as the AWS APIs write them.
_CLOCK = r"([01]\d|2[0-3]):([0-5]\d)"
_DAILY = re.compile(r"^%s-%s$" % (_CLOCK, _CLOCK))
_WEEKLY = re.compile(r"^(%s):%s-(%s):%s$" % ("|".join(DAYS), _CLOCK, "|".join(DAYS), _CLOCK), re.IGNORECASE)


def parse_daily_window(text: str) -> Tuple[int, int]:
    """"hh24:mi-hh24:mi" (UTC) -> (start, length) in minutes of the day; ValueError when malformed."""
    found = _DAILY.match(text.strip())
    if not found:
        raise ValueError("%r is not a daily window hh24:mi-hh24:mi (UTC), for example 05:00-06:00" % text)
    start = int(found.group(1)) * 60 + int(found.group(2))
    end = int(found.group(3)) * 60 + int(found.group(4))
    return start, (end - start) % _MINUTES_PER_DAY


def parse_weekly_window(text: str) -> Tuple[int, int]:
    """"ddd:hh24:mi-ddd:hh24:mi" (UTC) -> (start, length) in minutes of the week (Monday 00:00 = 0)."""
    found = _WEEKLY.match(text.strip())
    if not found:
        raise ValueError("%r is not a weekly window ddd:hh24:mi-ddd:hh24:mi (UTC), for example sun:23:00-mon:01:30"
                         % text)
    start = DAYS.index(found.group(1).lower()) * _MINUTES_PER_DAY + int(found.group(2)) * 60 + int(found.group(3))
    end = DAYS.index(found.group(4).lower()) * _MINUTES_PER_DAY + int(found.group(5)) * 60 + int(found.group(6))
    return start, (end - start) % _MINUTES_PER_WEEK


def _intervals_overlap(first: Tuple[int, int], second: Tuple[int, int], period: int) -> bool:
    """Whether two (start, length) intervals on a circular clock of ``period`` minutes share any minute."""
    (start_a, length_a), (start_b, length_b) = first, second
    return (start_b - start_a) % period < length_a or (start_a - start_b) % period < length_b


def daily_overlaps_weekly(daily: Tuple[int, int], weekly: Tuple[int, int]) -> bool:
    """Whether a window repeated every day overlaps a weekly window."""
    return any(_intervals_overlap((day * _MINUTES_PER_DAY + daily[0], daily[1]), weekly, _MINUTES_PER_WEEK)
               for day in range(7))


def window_conflict(daily: str, weekly: str, min_minutes: int) -> Optional[str]:
    """Why a daily and a weekly window cannot be used together (None when they can): malformed, shorter than
    ``min_minutes``, or overlapping on some day of the week."""
    try:
        daily_window, weekly_window = parse_daily_window(daily), parse_weekly_window(weekly)
    except ValueError as exc:
        return str(exc)
    if daily_window[1] < min_minutes or weekly_window[1] < min_minutes:
        return "each window must last at least %d minutes" % min_minutes
    if daily_overlaps_weekly(daily_window, weekly_window):
        return "the windows overlap"
    return None
