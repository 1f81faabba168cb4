"""The ``gridfs`` command line (:mod:`gridfs.cli.app`) and mount(8)'s helper.

The package imports nothing itself: ``mount.fuse.gridfs`` starts without
loading the click commands, and no family module has a way back to the app.
"""
