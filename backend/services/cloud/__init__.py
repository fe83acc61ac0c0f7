"""Cloud code: CloudService (service.py) runs what the app registered; loader, reload and validator rules."""
