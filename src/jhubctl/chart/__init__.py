"""The z2jh chart: values made from the config, checked against the chart's schema, installed with helm."""
