"""Prints the member names of a tar file as Python's tarfile reads them (a JSON list).

usage: list_tar_members.py TAR
"""
import json
import sys
import tarfile

with tarfile.open(sys.argv[1]) as tar:
    print(json.dumps([m.name for m in tar.getmembers()]))
