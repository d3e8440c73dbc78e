# A stdout callback for the tests: one JSON document at the end of the run, with every task's
# per-host results and the play stats (ansible-core 2.14 ships no json callback).
from __future__ import annotations

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: results_json
type: stdout
short_description: every task's results as one JSON document (tests only)
description: every task's results as one JSON document (tests only)
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'results_json'

    def __init__(self):
        super().__init__()
        self.tasks = []
        self.by_uuid = {}

    def _record(self, result, **extra):
        task = result._task
        t = self.by_uuid.get(task._uuid)
        if t is None:
            t = {'task': {'name': task.get_name()}, 'hosts': {}}
            self.by_uuid[task._uuid] = t
            self.tasks.append(t)
        r = dict(result._result)
        r.update(extra)
        t['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        out = {'plays': [{'tasks': self.tasks}], 'stats': {}}
        for h in sorted(stats.processed.keys()):
            out['stats'][h] = stats.summarize(h)
        self._display.display(json.dumps(out, default=str))
