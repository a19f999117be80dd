# End-to-end text spotting with the TPS RoI rectifier's outline supervised by the
# annotated polygons: the spotter of faster-rcnn_r18_fpn_tps-crnn_word-scenes.py plus
# * loss_outline: for each positive RoI, the rectifier's 4 x 4 control points against
#   its word's polygon (top and bottom edges resampled to 4 points, the two inner rows
#   between them) in the RoI's frame, Smooth L1 (beta 0.1 box half-sizes);
# * recog_geometry='both': the recognizer reads the rectifier's crops of the positive
#   RoIs and, teacher-forced, every annotated word flattened along its own polygon
#   (loss_recog_gt_ctc), so it need not learn to read only from a rectifier that is
#   still wrong. At test time it reads the predicted outlines.
# The polygons of its predictions are the rectified crops' borders, now supervised.
_base_ = './faster-rcnn_r18_fpn_tps-crnn_word-scenes.py'

model = dict(
    roi_head=dict(
        outline_loss_weight=1.0,
        outline_loss_beta=0.1,
        recog_geometry='both'))
