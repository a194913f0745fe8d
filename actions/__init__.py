"""ShopAssist actions package."""

from actions.warm_start import start_in_background, warm_start_requested

if warm_start_requested():
    start_in_background()
