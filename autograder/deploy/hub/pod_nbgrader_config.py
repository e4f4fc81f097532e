"""The course hub's nbgrader settings on Kubernetes, for the formgrader (formgrader.yaml's ConfigMap holds this
file as nbgrader_config.py, and pod_exchange.py beside it). The students' pods get the first two lines only
(z2jh-values.yaml, singleuser.extraFiles): their exchange is nbgrader's own, made private by their mounts."""

import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.CourseDirectory.course_id = "gradbook"
c.Exchange.root = "/srv/nbgrader/exchange"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pod_exchange.py, in the same ConfigMap
c.ExchangeFactory.collect = "pod_exchange.PodCollect"
c.ExchangeFactory.release_feedback = "pod_exchange.PodFeedback"
