# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Queue-depth autoscaling of the nl2api workers (nl2api.deploy.queue_autoscaling).

* :mod:`.plan`: intent -> the chart's ``worker.autoscaling`` values, validation, desired replicas;
* :mod:`.hpa`: a model of the Kubernetes HPA controller (worst-case scale-up and scale-down times);
* :mod:`.chart_values`: the chart's values merged in Helm's order, and the worker settings read from them;
* :mod:`.redis_streams`: the consumer group's lag and pending count read from Redis (``XINFO GROUPS``).
"""
