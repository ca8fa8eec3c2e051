FROM ubuntu
ARG GITHUB_TOKEN
ENV DB_PASSWORD=hunter2 \
    LOG_LEVEL=info
RUN apt-get update && \
    apt-get install -y curl
RUN curl -fsSL https://get.example.com/install.sh | bash
ADD https://example.com/app.tar.gz /opt/
FROM alpine:latest AS final
RUN wget -qO- https://x.example/i.sh | sudo sh
USER root
