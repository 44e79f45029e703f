"""Local mode's machinery, in one room: everything that stands in for AWS and the instance on
this machine.

- `mode.py`: `make local` (`python -m workbench local`), the whole workbench on loopback;
- `runner.py`: starts the rendered bundle's servers (NGINX, JupyterHub, ...) under a supervisor,
  for local mode, the live tests, the doctor's tests and the benchmarks;
- `emulator/`: moto as AWS, with the CloudFormation models it lacks (one class per AWS type).
"""
