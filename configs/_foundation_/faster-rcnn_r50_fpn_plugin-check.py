# Foundation check: an mmdet 3.3.0 config inherited from the installed mmdet
# package (`mmdet::` resolves to mmdet's bundled `.mim/configs`) that imports
# stn_plugin, so its modules are registered and its compat layer (safe
# checkpoint loading, see stn_plugin/compat) is active. Nothing STN-specific is
# changed here: tests build this detector (with a smaller backbone) to prove the
# stack imports, registers and runs. Used by tests/test_foundation_mmdet_config.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)
