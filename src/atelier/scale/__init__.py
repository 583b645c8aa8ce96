"""Work at scale: folders of images, videos, and the engines that spread them over processes or a cluster."""
