"""`make bench`: the site's performance, measured on this machine (run: python -m bench.bench).

bench.py is the command line; measure_builds, measure_serve, measure_model and measure_tests
take the measures (in processes of their own, some running the files in programs/ and probe/);
rows.py judges them against targets.py, report.py writes the table and the page.
"""
