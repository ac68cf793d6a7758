"""Filters of the fleet playbook: the fleet manifest split over the KVM hosts, and the hosts'
batch reports gathered into one fleet report."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

# Keys of a fleet entry that say where it goes; the rest is the batch entry itself.
PLACEMENT_KEYS = ("host", "size")


def _guests(manifest):
    if not isinstance(manifest, dict) or not isinstance(manifest.get("guests"), list):
        raise AnsibleFilterError("fleet manifest: expected a mapping with guests: (a list) and optionally defaults:")
    for index, guest in enumerate(manifest["guests"]):
        if not isinstance(guest, dict) or not (guest.get("source") or guest.get("image")):
            raise AnsibleFilterError(f"fleet manifest: guest {index + 1} has no source: (ssh://XENHOST/NAME) or image:")
    return manifest["guests"]


def fleet_split(manifest, hosts, capacities=None):
    """Each host's guests: a guest naming its host goes there; the others, largest first, to the
    host with the most capacity left (capacity in the same unit as the guests' size:, default 1
    per guest). Returns {host: [batch entries]}, every host present, in manifest order."""
    hosts = list(hosts)
    if not hosts:
        raise AnsibleFilterError("fleet_split: the inventory has no KVM hosts")
    capacities = capacities or {}
    left = {h: float(capacities.get(h) or 0) for h in hosts}
    placed = {}
    guests = _guests(manifest)
    for index, guest in enumerate(guests):
        host = guest.get("host")
        if host is None:
            continue
        if host not in left:
            raise AnsibleFilterError(f"fleet manifest: guest {index + 1} names host {host}, which is not in the inventory's KVM hosts")
        placed[index] = host
        left[host] -= float(guest.get("size", 1))
    free = sorted((i for i in range(len(guests)) if i not in placed), key=lambda i: -float(guests[i].get("size", 1)))
    for index in free:
        # Most room left wins; ties go to the host with fewer guests, then inventory order.
        count = {h: sum(1 for p in placed.values() if p == h) for h in hosts}
        host = max(hosts, key=lambda h: (left[h], -count[h], -hosts.index(h)))
        placed[index] = host
        left[host] -= float(guests[index].get("size", 1))
    split = {h: [] for h in hosts}
    for index, guest in enumerate(guests):
        split[placed[index]].append({k: v for k, v in guest.items() if k not in PLACEMENT_KEYS})
    return split


def fleet_report(batches):
    """One report from every host's `xen2kvm batch --json` (batches: {host: report or None})."""
    hosts = {}
    guests = []
    totals = {"guests": 0, "converted": 0, "skipped": 0, "failed": 0, "boot_checked": 0, "defined": 0, "wire_bytes": 0}
    for host, report in sorted(batches.items()):
        if not report:
            hosts[host] = {"status": "unreachable", "seconds": 0, "guests": 0}
            continue
        images = report.get("images", [])
        hosts[host] = {"status": report.get("status"), "seconds": report.get("seconds", 0), "guests": len(images)}
        for image in images:
            status = image.get("status")
            copy = image.get("copy") or {}
            boot = image.get("bootCheck") or {}
            guests.append({
                "host": host,
                "guest": image.get("image"),
                "status": status,
                "seconds": image.get("seconds"),
                "wire_bytes": copy.get("wireBytes", 0),
                "boot_checked": bool(boot.get("ok")),
                "defined": image.get("defined"),
                "error": image.get("error"),
            })
            totals["guests"] += 1
            if status == "converted":
                totals["converted"] += 1
            elif status == "skipped":
                totals["skipped"] += 1
            elif status in ("failed", "boot-check-failed", "define-failed"):
                totals["failed"] += 1
            totals["boot_checked"] += 1 if boot.get("ok") else 0
            totals["defined"] += 1 if image.get("defined") else 0
            totals["wire_bytes"] += copy.get("wireBytes", 0)
    return {"totals": totals, "hosts": hosts, "guests": guests}


class FilterModule:
    def filters(self):
        return {"fleet_split": fleet_split, "fleet_report": fleet_report}
