"""gt-gen: ground truth from the official pipelines, and the consistency gate that uses it."""

__version__ = "0.1.0"

import os as _os

# OpenCV's FFmpeg backend prints to stderr from C; silence it before cv2 is first imported
# anywhere, so bad-input errors stay one line.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
