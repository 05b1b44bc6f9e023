def test_home_page_shows_the_figure(page, site_url):
    page.goto(site_url)
    image = page.locator("img[src*='figures/next-token.svg']")
    assert image.evaluate("img => img.naturalWidth") > 0
