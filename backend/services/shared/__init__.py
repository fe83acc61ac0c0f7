"""What every service group uses: units of work, ACL/CLP, change events, trigger seams, internal classes."""
