# The thin-plate-spline RoI rectifier (4x4 control points) shared by the R-CNN configs.
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

rectifier = dict(
    type='TPSRoIRectifier',
    num_control_points=16,
    control_point_range=1.5,
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,
    context_factor=1.2,
    regularizers=[dict(type='BendingEnergyLoss', weight=0.01)])
