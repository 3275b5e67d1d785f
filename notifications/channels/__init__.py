"""Channels: each sends rendered messages one way (mail, a chat robot, a signed webhook)."""
