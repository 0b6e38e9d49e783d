"""deploy/image.py: the Bento copies the code, not the installed package, so without the
profile metadata the container finds no dataset profile and fails at start."""

from __future__ import annotations

import shutil
from importlib.metadata import distributions, entry_points

from deploy.image import PROFILE_GROUP, ROOT, profile_metadata


def test_the_code_folder_declares_every_installed_profile_during_the_build(tmp_path):
    installed = {p.name: p.value for p in entry_points(group=PROFILE_GROUP)}
    with profile_metadata() as folder:
        assert folder.parent == ROOT  # the root of the Bento's code folder: its import path
        shutil.copytree(folder, tmp_path / folder.name)  # as the Bento copies it
    (found,) = distributions(path=[str(tmp_path)])  # what the server's import path shows
    declared = {p.name: p.value for p in found.entry_points if p.group == PROFILE_GROUP}
    assert declared == installed and "home-credit" in declared
    assert not folder.exists()  # not left in the working tree
