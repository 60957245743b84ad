"""Review: what a change does and why a value is what it is.

`diff` compares the effective values of two revisions (snapshot, diff, diff_report,
charts); `explain` prints the provenance of resolved values; `show` prints the model.
These read the pipeline's model; they never write out/.
"""
