"""Sensor health: quality codes of readings from checks that need no history and checks against
the sensor's neighbours, with a robust model of each sensor fitted from its own data. Pure."""
