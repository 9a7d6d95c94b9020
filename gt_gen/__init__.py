"""gt-gen: ground truth from the official pipelines, and the consistency gate that uses it."""

__version__ = "0.1.0"

import os as _os

# OpenCV's FFmpeg backend prints to stderr from C; silence it before cv2 is first imported
# anywhere, so bad-input errors stay one line. FATAL, not ERROR: a truncated mp4 made OpenCV
# log two ERROR lines ("Could not find decoder for codec_id=0", "Failed to initialize
# VideoCapture") above gt-gen's own line, which already says the video cannot be opened.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
