# Shim so Dataflow's --setup_file can stage this package; the metadata lives in pyproject.toml.
from setuptools import setup

setup()
