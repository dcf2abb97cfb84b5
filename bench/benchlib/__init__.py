"""Helpers shared by the benchmark scripts in `bench/` (Python 3.11, standard library).

- `runtime`: binaries, logging to stderr, free ports, processes that are always cleaned up
  (on exit, on an error and on Ctrl-C).
- `certs`: the ECDSA P-256 certificate both MTAs present, made at run time with openssl.
- `mta`: what a script needs of an MTA under test (`Mta`, `MtaSettings`, `running`);
  `posthorn`, `postfix`: a throwaway instance of each on loopback, relaying to a sink.
- `memory`: VmRSS and Pss of a process or a whole process tree, from /proc.
- `sinks`: the next hops (Debian's `smtp-sink`, `posthorn-bench sink`) and their counts.
- `loadgen`: the load generators (Debian's `smtp-source`, `posthorn-bench source` and
  `idle`).
- `relaying`: the size x sessions x mode matrix `relay` and `relay-tls` share.
- `report`: medians, the one table each script prints, and its `--json` form.
- `options`: command-line pieces every script shares (sizes, session counts, modes).
"""
