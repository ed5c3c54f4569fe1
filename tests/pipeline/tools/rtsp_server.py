#!/usr/bin/python3
"""A real RTSP server for the pipeline tests: GStreamer's gst-rtsp-server
(Debian's gir1.2-gst-rtsp-server-1.0) serving a moving test pattern as
MJPEG, H.264 or H.265 (x264 or x265, a key frame every second, no B-frames,
as cameras send) over RTP at rtsp://127.0.0.1:PORT/live.

    rtsp_server.py PORT [WIDTH HEIGHT FPS [mjpeg|h264|h265]]

Prints "ready" once it listens; stops on SIGTERM.
"""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port = sys.argv[1]
    width, height, fps, codec = (sys.argv[2:6] + ["640", "480", "15", "mjpeg"][len(sys.argv[2:6]):])
    if codec == "h264":
        encode = (f"x264enc tune=zerolatency speed-preset=veryfast key-int-max={fps} bframes=0 "
                  "! rtph264pay name=pay0 pt=96 config-interval=1")
    elif codec == "h265":
        # zerolatency: no B-frames, as cameras send.
        encode = (f"x265enc tune=zerolatency speed-preset=veryfast key-int-max={fps} "
                  "! rtph265pay name=pay0 pt=96 config-interval=1")
    else:
        encode = "jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! videoconvert ! video/x-raw,format=I420 ! {encode} )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
