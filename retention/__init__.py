"""Retention: when a student's record may be removed, and the sweep that does it.

Built by the retention issue; the package exists so the layout is the one the
design names.
"""
