"""Results of a sweep, grouped: one configuration, its values over the runs, and ratios to the
reference measured in the same run."""

import json
import operator
import statistics

KEY_FIELDS = ("group", "label", "case", "size", "writers", "readers", "writer_cpus",
              "reader_cpus", "capacity", "prefault", "topics", "daemon_interval_ms", "round")


def load(path, include_disturbed=False):
    """The usable results: finished, checked, and (unless asked) not disturbed by other
    work."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            usable = include_disturbed or not row.get("disturbed")
            if row.get("ok") and usable and row.get("errors", 0) == 0:
                rows.append(row)
    return rows


def key_of(row, **override):
    key = {field: row.get(field) for field in KEY_FIELDS}
    key.update(override)
    return tuple(sorted(key.items()))


class Results:
    def __init__(self, rows):
        self.rows = rows
        self.by_key = {}
        for row in rows:
            self.by_key.setdefault(key_of(row), {})[row["run"]] = row

    def find(self, **fields):
        """Per-run rows of the configuration with these fields (others: any)."""
        for key, runs in self.by_key.items():
            values = dict(key)
            if all(values.get(k) == v for k, v in fields.items()):
                yield values, runs

    def one(self, **fields):
        found = list(self.find(**fields))
        return found[0][1] if found else {}

    @staticmethod
    def values(runs, metric):
        return [row[metric] for row in runs.values() if row.get(metric) is not None]

    @staticmethod
    def summary(runs, metric):
        """(median, min, max, n) of a metric over the runs, or None."""
        values = Results.values(runs, metric)
        if not values:
            return None
        return statistics.median(values), min(values), max(values), len(values)

    def pooled(self, metric, **fields):
        """(median, min, max, n) of a metric over every configuration with these fields and
        every run: the rounds of one configuration pooled."""
        values = [row[metric] for _, runs in self.find(**fields) for row in runs.values()
                  if row.get(metric) is not None]
        if not values:
            return None
        return statistics.median(values), min(values), max(values), len(values)

    def paired(self, metric, fields, reference_fields, compare):
        """Median, min and max of compare(value, reference) over every (run, round) that has
        both: each comparison is taken between neighbours measured seconds apart."""
        compared = []
        for key, runs in self.find(**fields):
            round_number = key.get("round")
            reference = self.one(**reference_fields, round=round_number)
            for run, row in runs.items():
                other = reference.get(run)
                if other and row.get(metric) and other.get(metric):
                    compared.append(compare(row[metric], other[metric]))
        return spread(compared)

    def paired_ratio(self, metric, fields, reference_fields):
        """value / reference within each (run, round): see paired."""
        return self.paired(metric, fields, reference_fields, operator.truediv)

    def paired_difference(self, metric, fields, reference_fields):
        """value - reference within each (run, round): see paired."""
        return self.paired(metric, fields, reference_fields, operator.sub)

    @staticmethod
    def per_run(runs, reference_runs, metric, compare):
        """Median over runs of compare(value, reference) (same run), with min and max."""
        compared = []
        for run, row in runs.items():
            reference = reference_runs.get(run)
            if reference is None or not row.get(metric) or not reference.get(metric):
                continue
            compared.append(compare(row[metric], reference[metric]))
        return spread(compared)

    @staticmethod
    def ratio(runs, reference_runs, metric):
        """Median over runs of value / reference (same run), with min and max."""
        return Results.per_run(runs, reference_runs, metric, operator.truediv)

    @staticmethod
    def difference(runs, reference_runs, metric):
        """Median over runs of value - reference (same run), with min and max."""
        return Results.per_run(runs, reference_runs, metric, operator.sub)


def spread(values):
    """(median, min, max, n) of values, or None."""
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)
