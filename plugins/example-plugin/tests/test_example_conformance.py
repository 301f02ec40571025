"""sslbench's conformance suite over this plugin: all a plugin author has to write.

One test per component (``byol`` once per modality it can run on, with the built-in
plugins as partners): defaults build, a tiny batch flows, declarations hold, a few
steps lower the loss, results serialise.
"""
from sslbench.testing import conformance_tests

TestConformance = conformance_tests("sslbench_example.hooks")
