"""What the attack scripts read of the server process they attack, from /proc."""
import os


def memory(pid):
    """Resident and peak memory (VmRSS, VmHWM), in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                values[line.split(":")[0]] = int(line.split()[1]) // 1024
    return values


def cpu_seconds(pid):
    """User and system CPU time so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
