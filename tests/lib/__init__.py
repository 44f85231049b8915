"""Shared by the Python tests: import as `from lib import config, runner` after putting tests/
first on sys.path (every script does it the same way, on its first lines):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

Modules: checks (pass/fail tally), config (YAML configurations), frames (scapy PTB builders),
linux_hash (an independent model of the Linux multipath hash), netns (namespaces), pcapfile
(plain pcap files), procs (child processes), prom (Prometheus text format and HTTP), runner
(the ptbsteer binary: start, wait, stop, exit report)."""
