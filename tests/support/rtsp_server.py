#!/usr/bin/python3
"""A real RTSP server for the tests, on 127.0.0.1 only: GStreamer's
rtsp-server serving an H.264 test pattern (320x240, 15 frames/s).

    /usr/bin/python3 tests/support/rtsp_server.py PORT /path [LAUNCH]

LAUNCH replaces the test pattern with another GStreamer launch line
(benches/clips-cost.sh serves an H.264 file with it). Prints "ready" on stdout once it listens; serves until killed.
Needs Debian's gir1.2-gst-rtsp-server-1.0, python3-gi and
gstreamer1.0-plugins-{base,good,ugly} (x264enc).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port, path = sys.argv[1], sys.argv[2]
    launch = sys.argv[3] if len(sys.argv) > 3 else (
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )"
    )
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(len(sys.argv) <= 3)
    server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
