# shmyolo's container image: a build stage with the compilers and a slim
# Debian 12 runtime stage with only the shared libraries, run as an
# unprivileged user (uid 10001).
#   docker build -t shmyolo .
#   docker run --rm shmyolo demo --duration 10        # fits Docker's default 64 MB /dev/shm
#   docker compose up                                 # ingest + workers + MQTT broker (docker-compose.yml)
# Its files: /usr/local/bin/shmyolo, /usr/local/lib/libonnxruntime.so.1,
# /usr/local/share/shmyolo/{models,examples}, /etc/shmyolo/pipeline.yaml.

FROM debian:12-slim AS build
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them.
COPY scripts/install-deps scripts/fetch-onnxruntime scripts/
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMYOLO_BUILD_TESTS=OFF \
 && cmake --build build \
 && cmake --install build --prefix /out/usr/local

FROM debian:12-slim
# The runtime halves of the build's -dev packages (`ldd shmyolo`), and
# GStreamer's RTSP source and H.264/H.265 decoders for network cameras.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libfmt9 libmosquitto1 libmodbus5 libyaml-cpp0.7 libzmq5 libcpp-httplib0.11 \
      libavformat59 libavcodec59 libswscale6 libavutil57 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libopencv-videoio406 \
      libopencv-calib3d406 libopencv-dnn406 \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin shmyolo
COPY --from=build /out/ /
COPY deploy/pipeline.yaml /etc/shmyolo/pipeline.yaml
# Segments are created 0600: every container of one pipeline runs as this
# same user, and nobody else can read its frames.
USER 10001:10001
ENTRYPOINT ["shmyolo"]
CMD ["demo"]
