"""What ``podium demo`` writes and prints (the command itself is ``podium.cli.demo``).

project.py   the commerce template pointed at the running simulators; which folders
             the demo may write (empty ones, or a previous demo's)
inbox.py     the retailer sell-through and ad-spend files it drops in the inbox
speeds.py    the simulators' raised limits and the connection settings that match
summary.py   the closing summary: rows, revenue, checks, what was late and restated
"""
